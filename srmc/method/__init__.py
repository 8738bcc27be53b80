"""The method: SRMC's surrogate (`tilt`), the wrapper that runs a base kernel on it (`wrapper`), step-count
schedules (`schedules`), the kernel records every layer reads (`kernels`) and the `Algorithm` the runner drives."""
