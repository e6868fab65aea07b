# The controller: election through /controller, partition states, deletion.
