"""SE(2) helpers: angle wrapping and frame changes. Angles in radians, positions in metres."""

from drive.geometry.se2 import relative_pose, rotate_vectors, to_local, to_world, wrap_angle

__all__ = ["wrap_angle", "rotate_vectors", "to_local", "to_world", "relative_pose"]
