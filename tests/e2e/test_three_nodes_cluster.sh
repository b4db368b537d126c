#!/bin/bash
# test_three_nodes_cluster.sh - three_nodes.sh on a Redis Cluster (three primaries, a replica each)
TOPOLOGY=cluster exec bash "$(cd "$(dirname "$0")" && pwd)/three_nodes.sh" "$@"
