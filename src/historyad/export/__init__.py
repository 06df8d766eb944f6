"""Deployment formats of fitted detectors: ONNX graphs (``historyad.export.onnx``).

An edge layer: it imports the detectors; nothing in ``historyad.detectors`` imports it.
"""

from historyad.export.onnx import OnnxDetector, export_model, read_card, verify_onnx

__all__ = ["OnnxDetector", "export_model", "read_card", "verify_onnx"]
