package service

// SetBeforeLock runs f in the next order groups between their reads of the
// definitions and their product lock (nil: no more).
func SetBeforeLock(f func()) {
	if f == nil {
		beforeLock.Store(nil)
		return
	}
	beforeLock.Store(&f)
}
