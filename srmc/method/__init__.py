"""The method: SRMC's surrogate (`tilt`), the wrapper that runs a base kernel on it (`wrapper`), step-count
schedules (`schedules`), the guard (`guard`), the warm-up's prediction of what alpha buys (`prediction`), the kernel
records every layer reads (`kernels`) and the `Algorithm` the runner drives."""
