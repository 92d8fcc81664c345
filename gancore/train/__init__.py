"""Training: the loop, its steps and statistics, CUDA graphs, assembling a pipeline, schedules, runs."""
