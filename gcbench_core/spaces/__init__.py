"""The heap's spaces (MMTk's policies): size-class mark-sweep, large objects, bump pointer."""
