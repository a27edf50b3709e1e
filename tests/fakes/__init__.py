"""Test doubles that share no code with etcdwire."""
