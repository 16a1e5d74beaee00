"""Helpers the tests share (no tests here): the example project, board dumps and a fake clock,
Redis servers a test starts itself, webhook receivers."""
