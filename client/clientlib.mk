# The client library (I/O thread, producer, consumer) and `brook produce|consume`.
