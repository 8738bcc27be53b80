"""The generic run engine: `runner.sample` (a jitted scan per chunk over vmapped chains), `adaptation.adapt` (the
warm-up, `warmup`), streaming estimators (`batch_means`), checkpoints, options, argument checks (`validation`),
the health report and the `SampleResult`. It knows no algorithm: it reads what an algorithm declares
(`srmc.method.algorithm`)."""
