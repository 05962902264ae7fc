//go:build !unix

package node

import (
	"fmt"
	"os"
)

// lockDir holds dir/LOCK open; without flock it relies on exclusive create,
// so a crashed node leaves a LOCK file that must be removed by hand.
func lockDir(dir, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if os.IsExist(err) {
			return nil, fmt.Errorf("datadir %s is in use by another quern node (remove %s if none is running)", dir, path)
		}
		return nil, fmt.Errorf("lock datadir %s: %w", dir, err)
	}
	return f, nil
}

func unlockDir(f *os.File) error {
	name := f.Name()
	err := f.Close()
	os.Remove(name)
	return err
}
