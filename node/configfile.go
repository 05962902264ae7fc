package node

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// fileLayout is the TOML layout of --config, built from Settings: a struct
// with a field per setting, tagged with its key, and a struct field per
// table ([miner] address = --miner.address), in the order of Settings.
// Pointers tell "absent" from "zero", so a file overrides only what it
// names; the toml package reads and writes it as a hand-written struct.
var fileLayout = buildFileLayout()

type layout struct {
	typ   reflect.Type
	index [][]int // Settings[i]'s field in typ
}

func buildFileLayout() layout {
	tag := func(key string) reflect.StructTag { return reflect.StructTag(`toml:"` + key + `"`) }
	var top []reflect.StructField
	tables := map[string]int{}                 // table name → its field in top
	members := map[int][]reflect.StructField{} // a table's fields, by its field in top
	index := make([][]int, len(Settings))
	for i, s := range Settings {
		name, key, dotted := strings.Cut(s.Key, ".")
		f := reflect.StructField{Name: fmt.Sprintf("S%d", i), Type: s.value.fileType(), Tag: tag(name)}
		if !dotted {
			index[i] = []int{len(top)}
			top = append(top, f)
			continue
		}
		if strings.Contains(key, ".") {
			panic("node: setting key " + s.Key + ": a key is at most one table deep")
		}
		f.Tag = tag(key)
		t, ok := tables[name]
		if !ok {
			t = len(top)
			tables[name] = t
			top = append(top, reflect.StructField{Name: fmt.Sprintf("T%d", i), Tag: tag(name)})
		}
		index[i] = []int{t, len(members[t])}
		members[t] = append(members[t], f)
	}
	for t, fields := range members {
		top[t].Type = reflect.StructOf(fields)
	}
	return layout{typ: reflect.StructOf(top), index: index}
}

// ApplyConfigFile overlays the TOML file at path on cfg (defaults < file <
// flags: the caller applies flags afterwards). Unknown keys are errors, so a
// typo never silently falls back to a default.
func ApplyConfigFile(path string, cfg *Config) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	f := reflect.New(fileLayout.typ)
	md, err := toml.Decode(string(raw), f.Interface())
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return fmt.Errorf("config file %s: %s", path, perr.Message)
		}
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return fmt.Errorf("config file %s: unknown key(s) %s", path, strings.Join(keys, ", "))
	}
	// toml matches keys to fields regardless of case; we do not, so that
	// "Mine" and "mine" can never both set one setting.
	var miscased []string
	for _, k := range md.Keys() {
		if !fileKeys[k.String()] {
			miscased = append(miscased, k.String())
		}
	}
	if len(miscased) > 0 {
		return fmt.Errorf("config file %s: unknown key(s) %s (keys are the flag names, in lower case)", path, strings.Join(miscased, ", "))
	}
	for i, s := range Settings {
		if err := s.value.fromFile(cfg, f.Elem().FieldByIndex(fileLayout.index[i])); err != nil {
			return fmt.Errorf("config file %s: %s: %v", path, s.Key, err)
		}
	}
	return nil
}

// fileKeys is every key and table a config file may name, spelled exactly
// as the layout's tags spell them.
var fileKeys = func() map[string]bool {
	keys := map[string]bool{}
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			keys[prefix+name] = true
			if f.Type.Kind() == reflect.Struct {
				walk(prefix+name+".", f.Type)
			}
		}
	}
	walk("", fileLayout.typ)
	return keys
}()

// WriteConfigFile writes cfg as the TOML that ApplyConfigFile reads (every
// setting a file can hold, so that the file alone reproduces cfg).
func WriteConfigFile(w io.Writer, cfg Config) error {
	f := reflect.New(fileLayout.typ).Elem()
	for i, s := range Settings {
		f.FieldByIndex(fileLayout.index[i]).Set(s.value.toFile(&cfg, s.OmitZero))
	}
	return toml.NewEncoder(w).Encode(f.Interface())
}
