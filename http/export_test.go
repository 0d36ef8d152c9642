package http

// NoQuotas turns the lookup quotas off, for the benchmarks' baseline.
func (s *Server) NoQuotas() { s.quotas = nil }
