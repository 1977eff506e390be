"""Colours and line styles shared by figures, animations and the HTML viewer (read-only tables)."""

from __future__ import annotations

from types import MappingProxyType

from drive.data.schema import AgentType, MapType

# Agent colours are distinguishable for the common colour-vision deficiencies (Okabe-Ito palette).
AGENT_COLOURS = MappingProxyType(
    {
        AgentType.VEHICLE: "#0072B2",
        AgentType.PEDESTRIAN: "#D55E00",
        AgentType.CYCLIST: "#009E73",
        AgentType.OTHER: "#7F7F7F",
    }
)
TARGET_EDGE_COLOUR = "#000000"
GROUND_TRUTH_COLOUR = "#000000"
PREDICTION_COLOUR = "#CC79A7"
ATTENTION_COLOUR = "#E69F00"
BACKGROUND_COLOUR = "#FFFFFF"

# Traffic-signal state codes (WOMD TrafficSignalLaneState) -> (colour, legend name).
SIGNAL_STYLES = MappingProxyType(
    {
        0: ("#9E9E9E", "signal unknown"),
        1: ("#D7191C", "signal stop"),
        2: ("#F5B800", "signal caution"),
        3: ("#1A9641", "signal go"),
        4: ("#D7191C", "signal stop"),
        5: ("#F5B800", "signal caution"),
        6: ("#1A9641", "signal go"),
        7: ("#D7191C", "signal stop"),
        8: ("#F5B800", "signal caution"),
    }
)

# Box size used when a source records none (ETH/UCY has no sizes): length, width in m.
DEFAULT_SIZE_M = MappingProxyType(
    {
        AgentType.VEHICLE: (4.5, 2.0),
        AgentType.PEDESTRIAN: (0.6, 0.6),
        AgentType.CYCLIST: (1.8, 0.7),
        AgentType.OTHER: (1.0, 1.0),
    }
)

# Map feature style: colour, line width (points), line style, z-order, fill (closed polygons).
MAP_STYLES = MappingProxyType(
    {
        MapType.LANE: ("#B8C4D0", 0.8, (0, (4, 3)), 1, False),
        MapType.ROAD_LINE: ("#C9A227", 0.9, "-", 2, False),
        MapType.ROAD_EDGE: ("#3B3B3B", 1.4, "-", 3, False),
        MapType.STOP_SIGN: ("#C0392B", 0.0, "-", 4, False),
        MapType.CROSSWALK: ("#9FB8A0", 0.6, "-", 0, True),
        MapType.SPEED_BUMP: ("#D8A2D8", 0.6, "-", 0, True),
        MapType.DRIVEWAY: ("#E3D9C6", 0.6, "-", 0, True),
    }
)


def agent_colour(agent_type: int) -> str:
    return AGENT_COLOURS[AgentType(int(agent_type))]


def map_style(map_type: int) -> tuple:
    return MAP_STYLES[MapType(int(map_type))]


def signal_style(state: int) -> tuple[str, str]:
    """Colour and legend name of a traffic-signal state; codes outside 0..8 read as unknown."""
    return SIGNAL_STYLES.get(int(state), SIGNAL_STYLES[0])
