import numpy as np

from rib_ece.metric import expected_calibration_error


def test_perfectly_calibrated_confidence_has_zero_error():
    # 10 images at confidence 0.8 with 8 correct: accuracy equals confidence in the only bin.
    confidence = np.full(10, 0.8)
    correct = np.array([1] * 8 + [0] * 2, dtype=bool)
    assert expected_calibration_error(confidence, correct) == 0.0


def test_error_matches_a_hand_computation():
    # Two bins: 0.95 confidence, all wrong (gap 0.95); 0.15 confidence, all right (gap 0.85); equal shares.
    confidence = np.array([0.95, 0.95, 0.15, 0.15])
    correct = np.array([False, False, True, True])
    assert np.isclose(expected_calibration_error(confidence, correct), 100 * (0.5 * 0.95 + 0.5 * 0.85))
