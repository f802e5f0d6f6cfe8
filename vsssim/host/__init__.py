"""One simulated host: the world, scenario values and files, the demo."""
