package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
)

// /openapi/v2: one Swagger 2.0 document with the definition of every kind served, built
// from the same schemas as /openapi/v3 (helm and client-go's OpenAPISchema read it), as
// JSON or as the protobuf client-go's discovery asks for.

// openAPIV2Protobuf is what kube-openapi answers protobuf with (clients ask for the
// deprecated "…spec.v2@v1.0+protobuf", which is no valid media type to send back).
const openAPIV2Protobuf = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

type openAPIV2 struct {
	once        sync.Once
	json, proto []byte
	err         error
}

var openAPIV2Doc openAPIV2

func (o *openAPIV2) build() {
	defs, err := json.Marshal(groupSchemas(resourceTable))
	if err != nil {
		o.err = err
		return
	}
	defs = bytes.ReplaceAll(defs, []byte("#/components/schemas/"), []byte("#/definitions/"))
	o.json = []byte(fmt.Sprintf(`{"swagger":"2.0","info":{"title":"Kubernetes","version":%q},"paths":{},"definitions":%s}`,
		Version.GitVersion, defs))
	doc, err := openapi_v2.ParseDocument(o.json)
	if err != nil {
		o.err = fmt.Errorf("openapi v2: %w", err)
		return
	}
	o.proto, o.err = proto.Marshal(doc)
}

func (s *Server) serveOpenAPIV2(w http.ResponseWriter, r *http.Request) {
	openAPIV2Doc.once.Do(openAPIV2Doc.build)
	if openAPIV2Doc.err != nil {
		s.writeError(w, r, openAPIV2Doc.err)
		return
	}
	doc := &openAPIV2Doc
	if custom, err := s.openAPIV2With(); err != nil {
		s.writeError(w, r, err)
		return
	} else if custom != nil {
		doc = custom
	}
	w.Header().Set("Vary", "Accept")
	if strings.Contains(r.Header.Get("Accept"), "protobuf") {
		w.Header().Set("Content-Type", openAPIV2Protobuf)
		_, _ = w.Write(doc.proto)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc.json)
}
