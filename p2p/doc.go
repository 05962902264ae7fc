// Package p2p is quern's peer-to-peer layer: a libp2p host with a persistent
// identity, gossipsub topics for blocks and transactions whose validators
// import (and so vet) what they forward, a status handshake that tracks each
// peer's head and total difficulty, and a range-sync protocol that brings a
// late or forked node onto the heaviest chain. Bootnodes are redialled with
// backoff; mDNS finds peers on a LAN. wire.go fixes the stream encodings.
package p2p
