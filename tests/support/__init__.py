"""Helpers shared by the tests and by bench/: loopback servers, builders of stories and models, the resilience harness.

Nothing here is collected as a test. The dependency goes one way: ``bench/`` may import ``tests.support``;
no test imports ``bench``.
"""
