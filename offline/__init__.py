"""Offline engine: run the real program under recording mocks and the policy pack over gRPC."""
