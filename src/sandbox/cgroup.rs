//! cgroup limits and accounting (being written).
