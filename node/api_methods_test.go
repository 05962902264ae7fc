package node

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
)

// Every field of Quern is an API method of the same params and answer, and
// every API method has its field: a client built on Quern cannot call a
// name the server lacks or decode an answer into the wrong type.
func TestQuernMethods(t *testing.T) {
	api := reflect.TypeFor[*API]()
	ctxType, errType := reflect.TypeFor[context.Context](), reflect.TypeFor[error]()
	v := reflect.ValueOf(Quern)
	declared := map[string]bool{}
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		declared[name] = true
		m, ok := api.MethodByName(name)
		if !ok {
			t.Errorf("Quern.%s: API has no such method", name)
			continue
		}
		decl := v.Field(i).Interface().(interface {
			Name() string
			signature() ([]reflect.Type, reflect.Type)
		})
		params, result := decl.signature()
		var have []reflect.Type
		for j := 1; j < m.Type.NumIn(); j++ { // 0 is the receiver
			if in := m.Type.In(j); j > 1 || in != ctxType {
				have = append(have, in)
			}
		}
		if !reflect.DeepEqual(params, have) {
			t.Errorf("Quern.%s: params %v, API.%s takes %v", name, params, name, have)
		}
		outs := m.Type.NumOut()
		if outs == 0 || outs > 2 || (outs == 2 && m.Type.Out(1) != errType) || m.Type.Out(0) != result {
			t.Errorf("Quern.%s: answer %v, API.%s returns %v", name, result, name, m.Type)
		}
		if want := "quern_" + string(name[0]+'a'-'A') + name[1:]; decl.Name() != want {
			t.Errorf("Quern.%s is named %q, the server serves %q", name, decl.Name(), want)
		}
	}
	for i := range api.NumMethod() {
		if name := api.Method(i).Name; !declared[name] {
			t.Errorf("API.%s has no field in Quern: declare it there for clients", name)
		}
	}
}

// The answers whose Go type is not their JSON's plain mapping keep their shapes.
func TestRPCShapes(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{RPCSyncState{}, `false`},
		{RPCSyncState{Progress: &RPCSyncing{Current: 3, Highest: 9}}, `{"currentBlock":3,"highestBlock":9}`},
		{BlockNumber{Latest: true}, `"latest"`},
		{BlockNumber{Number: 12}, `12`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("%+v: %s, %v; want %s", tc.v, b, err, tc.want)
		}
	}
	var s RPCSyncState
	if err := json.Unmarshal([]byte(`{"currentBlock":3,"highestBlock":9}`), &s); err != nil || s.Progress == nil || s.Progress.Highest != 9 {
		t.Fatalf("decode progress: %+v, %v", s, err)
	}
	if err := json.Unmarshal([]byte(`false`), &s); err != nil || s.Progress != nil {
		t.Fatalf("decode false: %+v, %v", s, err)
	}
	var b BlockNumber
	if err := json.Unmarshal([]byte(`"latest"`), &b); err != nil || !b.Latest {
		t.Fatalf("decode latest: %+v, %v", b, err)
	}
}
