# Leader-epoch cache: the leader-epoch-checkpoint file of each partition.
