"""Other libraries in srmc: BlackJAX kernels (`srmc.interop.blackjax`)."""

from srmc.interop.blackjax import (
                                   BlackJAXInfo,
                                   blackjax_kernel,
                                   ghmc_auxiliary_key,
                                   info_nonfinite,
                                   is_blackjax_api,
                                   mala_proposal,
                                   random_walk_proposal,
)

__all__ = ["BlackJAXInfo", "blackjax_kernel", "ghmc_auxiliary_key", "info_nonfinite", "is_blackjax_api",
           "mala_proposal", "random_walk_proposal"]
