package main

import (
	"fmt"
	"os"

	"github.com/elasticroom/elasticroom/models/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

func dump(g *onnxpb.GraphProto, ind string) {
	for _, n := range g.Node {
		fmt.Printf("%s%s %s in=%v out=%v", ind, n.GetOpType(), n.GetName(), n.Input, n.Output)
		for _, a := range n.Attribute {
			fmt.Printf(" %s(%v)", a.GetName(), a.GetType())
			if a.GetType() == onnxpb.AttributeProto_INT { fmt.Print("=", a.GetI()) }
			if a.GetType() == onnxpb.AttributeProto_INTS { fmt.Print("=", a.GetInts()) }
		}
		fmt.Println()
		for _, a := range n.Attribute { if a.G != nil { fmt.Println(ind+"  subgraph", a.GetName(), "outs", a.G.Output); dump(a.G, ind+"    ") } }
	}
}
func main() {
	b, _ := os.ReadFile(os.Args[1])
	var m onnxpb.ModelProto
	proto.Unmarshal(b, &m)
	dump(m.Graph, "")
}
