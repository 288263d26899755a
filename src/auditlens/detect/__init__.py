"""Detectors: score the feature matrix, higher = riskier (thresholds live in scoring.py)."""
