"""Errors of configuration and infrastructure, reported as one line naming the setting."""

from __future__ import annotations


class ConfigError(Exception):
    """A setting is malformed, or what it points at cannot be used; the message names it."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem
