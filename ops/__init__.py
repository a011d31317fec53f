"""Operator tools that call AWS: backups, verification, restore drill, release."""
