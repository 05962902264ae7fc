//go:build !linux

package main

// Off Linux we do not switch the terminal's echo off: the password is read
// as a plain line of stdin (use --password-file to keep it off the screen).
func isTerminal(fd int) bool { return false }

func disableEcho(fd int) (restore func(), err error) { return func() {}, nil }
