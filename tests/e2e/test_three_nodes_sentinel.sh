#!/bin/bash
# test_three_nodes_sentinel.sh - three_nodes.sh on Sentinel (a primary, two replicas, three sentinels)
TOPOLOGY=sentinel exec bash "$(cd "$(dirname "$0")" && pwd)/three_nodes.sh" "$@"
