"""Benchmarks: ``civicloop bench …`` figures against raw ceilings measured in the same run."""
