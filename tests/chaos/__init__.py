"""Chaos tests: a real cluster behind fault proxies, a mixed workload, and loss checks."""
