"""Scenario schema, batching with masks, caching. Sources live in :mod:`drive.datasets`."""

from drive.data.schema import AgentTracks, AgentType, MapFeatures, MapType, Scenario, TrafficLights

__all__ = ["AgentType", "MapType", "AgentTracks", "MapFeatures", "TrafficLights", "Scenario"]
