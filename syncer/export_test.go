package syncer

// SetAfterPlanRead runs f in the next plans of every listing between their
// reads and their writes (nil: no more).
func SetAfterPlanRead(f func()) {
	if f == nil {
		afterPlanRead.Store(nil)
		return
	}
	afterPlanRead.Store(&f)
}
