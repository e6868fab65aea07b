# Topic administration through ZooKeeper and `brook topics|cluster`.
