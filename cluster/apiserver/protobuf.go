package apiserver

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

// client-go's typed clientset (and so `kubectl create`, `kubectl run`) sends request bodies
// as protobuf by default since 1.32; answers still come back as JSON, which it accepts.
// The protobuf is decoded with the generated k8s.io/api types and re-encoded as JSON so the
// rest of the server has one input format.
var protobufSerializer = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)

const mediaTypeProtobuf = "application/vnd.kubernetes.protobuf"

func protobufToJSON(body []byte) ([]byte, error) {
	obj, gvk, err := protobufSerializer.Decode(body, nil, nil)
	if err != nil {
		return nil, badRequest("error decoding protobuf: " + err.Error())
	}
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	return json.Marshal(obj)
}
