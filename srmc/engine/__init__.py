"""The run engine: `runner.sample` (a jitted scan per chunk over vmapped chains), streaming estimators
(`batch_means`), checkpoints, argument checks (`validation`) and the `SampleResult`."""
