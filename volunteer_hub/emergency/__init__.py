"""Mobilization: emergency plans, activation (real or drill), responses, assignment, roll call, stand-down, after-action report."""
