"""The lab (placeholder until the lab branch lands): experiments that test the notes' claims.

Example:
    >>> from hybridgrad.lab import ctc
    >>> ctc.CLAIM_EN.startswith("Thinking")
    True
"""
