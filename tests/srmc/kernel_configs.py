"""Shared kernel configurations for the srmc tests."""

from srmc import samplers

# name -> (module, params) tuned for the correlated Gaussian (d=20, rho=0.9: variances 0.1 .. 18.1)
CONTINUOUS_KERNELS = {
    "rwm": ("rwm", {"step_size": 0.15}),
    "mala": ("mala", {"step_size": 0.05}),
    "hmc": ("hmc", {"step_size": 0.15, "num_integration_steps": 10}),
    "kinetic_langevin": ("kinetic_langevin", {"step_size": 0.15, "damping": 0.5, "num_integration_steps": 1}),
}


def kernel(name):
    """(module, params) for a named continuous kernel."""
    module_name, params = CONTINUOUS_KERNELS[name]
    return getattr(samplers, module_name), dict(params)
