"""Helpers for Ringway's whole-system benchmarks (bench-scripts/compare, bench-scripts/profile).

Standard library only, so the scripts run on a fresh Debian machine with nothing but python3.
"""
