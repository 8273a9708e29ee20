// In-memory fakes of the kernel protocols.
