package azure

// SKU is an App Service plan's SKU: Name (Y1, EP1, P1v3, ...) and Tier
// (Dynamic, ElasticPremium, PremiumV3, ...).
type SKU struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
}

// DefaultPlanSKU is Consumption (Y1, tier Dynamic), whose apps report
// execution units, so that kubectl top shows CPU on the emulator. Azure
// runs Linux containers only on Premium, Dedicated and Container Apps:
// PUT the plan with an EP1 SKU, or set Options.PlanSKU, for those.
var DefaultPlanSKU = SKU{Name: "Y1", Tier: "Dynamic"}

// metricsOffered are the Microsoft.Web/sites metrics (of those the
// emulator serves) that a function app on a plan of tier offers, or on a
// Container Apps environment (noPlan). See doc.go for the sources.
//   - Consumption (tier Dynamic): FunctionExecutionCount and
//     FunctionExecutionUnits, and MemoryWorkingSet.
//   - Any other plan (Elastic Premium, Dedicated), and a Container Apps
//     environment: MemoryWorkingSet only; the two execution metrics are
//     not reported for Linux apps on Premium and Dedicated plans.
//
// CpuTime is a Web Apps metric: no function app offers it.
func metricsOffered(tier string, noPlan bool) []string {
	if !noPlan && tier == "Dynamic" {
		return []string{"FunctionExecutionCount", "FunctionExecutionUnits", "MemoryWorkingSet"}
	}
	return []string{"MemoryWorkingSet"}
}
