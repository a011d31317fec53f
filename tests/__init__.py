"""Tests of the program, the offline engine, the policy pack and the ops tools."""
