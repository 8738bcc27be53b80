"""The algorithms, each in BlackJAX's three layers with its hyperparameters as data: the base kernel alone
(`base`), Score-Repellent Monte Carlo (`srmc`, with its tilts as values in `tilt`, its surrogate in `surrogate`,
`schedules`, the `guard`, the warm-up's `prediction` of what alpha buys, `srmc_warmup` and `srmc_report`), the
record every algorithm is (`algorithm`) and the kernel records every layer reads (`kernels`)."""
