"""The test bed: real servers, virtual devices, DAW clients and the safety sampler.

Used by tests/, bench/ and the run command's demo; never installed with the package.
"""
