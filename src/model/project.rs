//! Projection of Kubernetes objects into summaries, done once per object as it arrives.
