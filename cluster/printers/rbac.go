package printers

import (
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func init() {
	createdAt := metav1.TableColumnDefinition{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]}
	bindingCols := func(what string) []metav1.TableColumnDefinition {
		return []metav1.TableColumnDefinition{
			nameColumn,
			col("Role", "string", rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"]),
			ageColumn,
			wide("Users", "string", "Users in the "+what),
			wide("Groups", "string", "Groups in the "+what),
			wide("ServiceAccounts", "string", "ServiceAccounts in the "+what),
		}
	}
	g := rbacv1.GroupName
	columns[schema.GroupResource{Group: g, Resource: "roles"}] = []metav1.TableColumnDefinition{nameColumn, createdAt}
	columns[schema.GroupResource{Group: g, Resource: "clusterroles"}] = []metav1.TableColumnDefinition{nameColumn, createdAt}
	columns[schema.GroupResource{Group: g, Resource: "rolebindings"}] = bindingCols("roleBinding")
	columns[schema.GroupResource{Group: g, Resource: "clusterrolebindings"}] = bindingCols("clusterRoleBinding")
}

// bindingCells follows kubectl's printRoleBinding: ROLE is Kind/name, and the wide columns
// list users, groups and service accounts (namespace/name).
func bindingCells(m metav1.ObjectMeta, ref rbacv1.RoleRef, subjects []rbacv1.Subject, now time.Time) []interface{} {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []interface{}{m.Name, ref.Kind + "/" + ref.Name, age(m.CreationTimestamp, now),
		strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
}

func createdAtCells(m metav1.ObjectMeta) []interface{} {
	return []interface{}{m.Name, m.CreationTimestamp.UTC().Format(time.RFC3339)}
}
