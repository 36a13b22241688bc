"""The offline planner writer: story shapes as data, the prompt parser, optional polishing."""
