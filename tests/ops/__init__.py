"""Tests of the AWS-facing operator tools, against a moto server."""
