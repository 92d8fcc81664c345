"""Storage: one atomic writer, checkpoints, the run folder, sample pictures, dataset files."""
